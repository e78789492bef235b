function c = makecform(type)
% Only 'srgb2lab' (MATLAB: sRGB -> CIE L*a*b*, ICC D50 adapted white). Octave has no makecform.
if ~strcmpi(type, 'srgb2lab')
  error('makecform shim: only srgb2lab is needed');
end
c = struct('type', 'srgb2lab');
end
