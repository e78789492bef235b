function out = applycform(rgb, c)
% MATLAB's documented srgb2lab chain for uint8 input: sRGB transfer curve, the ICC sRGB
% matrix (Bradford-adapted to D50), L*a*b* against the D50 white [0.9642 1 0.8249], and
% the 8-bit encoding of applycform's uint8 output (L*255/100, a+128, b+128, rounded).
if ~strcmp(c.type, 'srgb2lab') || ~isa(rgb, 'uint8')
  error('applycform shim: only uint8 srgb2lab is needed');
end
v = double(rgb) / 255;
lin = v / 12.92;
hi = v > 0.04045;
lin(hi) = ((v(hi) + 0.055) / 1.055) .^ 2.4;
M = [0.4360747 0.3850649 0.1430804; 0.2225045 0.7168786 0.0606169; 0.0139322 0.0971045 0.7141733];
white = [0.9642 1 0.8249];
f = cell(1, 3);
for k = 1:3
  t = (M(k, 1) * lin(:, :, 1) + M(k, 2) * lin(:, :, 2) + M(k, 3) * lin(:, :, 3)) / white(k);
  small = t <= (6 / 29)^3;
  t(~small) = t(~small) .^ (1 / 3);
  t(small) = t(small) / (3 * (6 / 29)^2) + 4 / 29;
  f{k} = t;
end
L = 116 * f{2} - 16;
a = 500 * (f{1} - f{2});
b = 200 * (f{2} - f{3});
out = uint8(cat(3, round(L * 255 / 100), round(a + 128), round(b + 128)));
end
