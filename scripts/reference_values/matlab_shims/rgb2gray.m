function g = rgb2gray(rgb)
% MATLAB's rgb2gray: Octave 7 truncates the weights to 6 decimals; MATLAB uses the
% first row of inv(NTSC matrix) and, for uint8, rounds the weighted sum.
w = [0.298936021293775 0.587043074451121 0.114020904255103];
x = double(rgb);
g = w(1) * x(:, :, 1) + w(2) * x(:, :, 2) + w(3) * x(:, :, 3);
if isa(rgb, 'uint8')
  g = uint8(round(g));
end
end
