function m = nanmean(X)
% MATLAB's nanmean of a matrix: column means over the non-NaN entries (absent in Octave's statistics 1.5).
ok = ~isnan(X);
X(~ok) = 0;
m = sum(X, 1) ./ sum(ok, 1);
end
