function [gx, gy] = imgradientxy(I, method)
% MATLAB's imgradientxy (Sobel): double input, replicate padding, correlation with
% -fspecial('sobel') (Gy) and its transpose (Gx). Octave's uses conv2 with zero padding.
if nargin > 1 && ~strcmpi(method, 'sobel')
  error('imgradientxy shim: only the default Sobel method is needed');
end
hy = -fspecial('sobel');
I = double(I);
gx = correlate_replicate(I, hy');
gy = correlate_replicate(I, hy);
end

function out = correlate_replicate(I, k)
p = (size(k) - 1) / 2;
rows = [ones(1, p(1)), 1:size(I, 1), size(I, 1) * ones(1, p(1))];
cols = [ones(1, p(2)), 1:size(I, 2), size(I, 2) * ones(1, p(2))];
out = filter2(k, I(rows, cols), 'valid');
end
