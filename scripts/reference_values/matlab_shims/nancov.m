function C = nancov(X)
% MATLAB's nancov default ('complete'): covariance (N-1) of the rows without any NaN.
C = cov(X(~any(isnan(X), 2), :));
end
