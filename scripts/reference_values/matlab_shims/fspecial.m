function h = fspecial(type, siz, sigma)
% MATLAB's documented fspecial for the kernel types the reference code uses.
% Octave's image package computes 'log' with another formula (centre -3.15 instead of
% MATLAB's -4.90 at size 5, sigma 0.5), so this shim shadows it on the path.
if nargin < 2, siz = 3; end
if nargin < 3, sigma = 0.5; end
if isscalar(siz), siz = [siz siz]; end
half = (siz - 1) / 2;
[x, y] = meshgrid(-half(2):half(2), -half(1):half(1));
switch lower(type)
  case 'gaussian'
    h = exp(-(x.^2 + y.^2) / (2 * sigma^2));
    h(h < eps * max(h(:))) = 0;
    if sum(h(:)) ~= 0, h = h / sum(h(:)); end
  case 'log'
    % normalised Gaussian times (r^2 - 2 sigma^2) / sigma^4, then made zero-sum
    g = exp(-(x.^2 + y.^2) / (2 * sigma^2));
    g(g < eps * max(g(:))) = 0;
    g = g / sum(g(:));
    h = g .* (x.^2 + y.^2 - 2 * sigma^2) / sigma^4;
    h = h - sum(h(:)) / numel(h);
  case 'sobel'
    h = [1 2 1; 0 0 0; -1 -2 -1];
  otherwise
    error('fspecial shim: type %s is not needed by the reference code', type);
end
end
