% Checks that the Octave built-ins the reference code uses unshimmed (filter2, imfilter,
% hist3, circshift, std, imresize) agree with MATLAB's documented definitions, and that
% Octave's fspecial(log) does not (hence the shim). Prints one line per check.
pkg load image; pkg load statistics;
randn("seed", 1);
x = randn(37, 29) * 50 + 100;
k = randn(5, 5);
% filter2 'same' = correlation, zero padding
xp = zeros(41, 33); xp(3:39, 3:31) = x;
d = zeros(37,29); for i=1:37 for j=1:29 d(i,j) = sum(sum(k .* xp(i:i+4, j:j+4))); end end
printf('filter2 max diff %g\n', max(abs(filter2(k, x, 'same')(:) - d(:))));
% imfilter replicate = correlation, replicate padding
xr = x([1 1 1:37 37 37], [1 1 1:29 29 29]);
d = zeros(37,29); for i=1:37 for j=1:29 d(i,j) = sum(sum(k .* xr(i:i+4, j:j+4))); end end
printf('imfilter replicate max diff %g\n', max(abs(imfilter(x, k, 'replicate')(:) - d(:))));
% hist3 with centres 1:10: nearest centre, out-of-range values in the edge bins
a = [0 1 2 10 11 15 3 3]'; b = [0 10 12 5 1 1 3 4]';
N = hist3([a b], {1:10, 1:10});
E = zeros(10); for i=1:numel(a) E(min(max(a(i),1),10), min(max(b(i),1),10)) += 1; end
printf('hist3 max diff %g\n', max(abs(N(:) - E(:))));
% circshift
printf('circshift ok %d\n', isequal(circshift([1 2 3;4 5 6;7 8 9], [-1 1]), [6 4 5; 9 7 8; 3 1 2]));
% std normalisation N-1
v = [1 2 3 4]; printf('std %g (expect %g)\n', std(v), sqrt(sum((v-mean(v)).^2)/3));
% imresize vs MATLAB's documented algorithm
printf('imresize max diff %g (sizes %s vs %s)\n', max(abs(imresize(x, 0.5)(:) - matlab_imresize(x, 0.5)(:))), mat2str(size(imresize(x,0.5))), mat2str(size(matlab_imresize(x,0.5))));
% fspecial
% fspecial: MATLAB's documented Gaussian, and its LoG (normalised Gaussian times
% (r^2 - 2 sigma^2) / sigma^4, made zero-sum)
[u, v] = meshgrid(-3:3, -3:3); g = exp(-(u.^2 + v.^2) / (2 * (7/6)^2)); g = g / sum(g(:));
printf('fspecial gaussian max diff %g\n', max(abs(fspecial('gaussian', 7, 7/6)(:) - g(:))));
[u, v] = meshgrid(-2:2, -2:2); g = exp(-(u.^2 + v.^2) / 0.5); g = g / sum(g(:));
l = g .* (u.^2 + v.^2 - 0.5) / 0.0625; l = l - mean(l(:));
printf('fspecial log centre: octave %g, matlab %g (shimmed)\n', fspecial('log', 5, 0.5)(3,3), l(3,3));
