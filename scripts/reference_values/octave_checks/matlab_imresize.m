function out = matlab_imresize(A, scale)
% MATLAB's imresize(A, scale) for a 2-D double image: bicubic (Keys, a = -0.5) with
% antialiasing when scale < 1 (kernel stretched by 1/scale), output size ceil(scale * size),
% symmetric (mirror) handling of the borders. Written from MATLAB's documented algorithm.
if ~isscalar(scale) || ~isfloat(A) || ndims(A) ~= 2
  error('imresize shim: only a scalar scale on a 2-D double image is needed');
end
out = resize_dim(A, scale, 1);
out = resize_dim(out, scale, 2);
end

function out = resize_dim(A, scale, dim)
n_in = size(A, dim);
n_out = ceil(scale * n_in);
width = 4;
if scale < 1
  width = width / scale;
end
x = (1:n_out)';
u = x / scale + 0.5 * (1 - 1 / scale);
left = floor(u - width / 2);
P = ceil(width) + 2;
idx = left + (0:P - 1);
if scale < 1
  w = scale * cubic(scale * (u - idx));
else
  w = cubic(u - idx);
end
w = w ./ sum(w, 2);
mirror = [1:n_in, n_in:-1:1];
idx = mirror(mod(idx - 1, numel(mirror)) + 1);
if dim == 1
  out = zeros(n_out, size(A, 2));
  for k = 1:n_out
    out(k, :) = w(k, :) * A(idx(k, :), :);
  end
else
  out = zeros(size(A, 1), n_out);
  for k = 1:n_out
    out(:, k) = A(:, idx(k, :)) * w(k, :)';
  end
end
end

function f = cubic(x)
ax = abs(x);
f = (1.5 * ax.^3 - 2.5 * ax.^2 + 1) .* (ax <= 1) + ...
    (-0.5 * ax.^3 + 2.5 * ax.^2 - 4 * ax + 2) .* ((1 < ax) & (ax <= 2));
end
