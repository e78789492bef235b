function reference_features(image_list, out_dir, niqe_params)
% Run the original MATLAB code (already on the path) on each PNG named in image_list
% (one path a line) and write one CSV per method to out_dir: a row per image, the
% image's file name first, then the feature vector (GMLF, HIGRADE-1) or score (NIQE).
% The calls are those of the authors' own demos.
names = strsplit(strtrim(fileread(image_list)), "\n");
gmlf = {}; higrade = {}; niqe = {};
if nargin > 2 && ~isempty(niqe_params)
  load(niqe_params, 'mu_prisparam', 'cov_prisparam');
end
for k = 1:numel(names)
  im = imread(strtrim(names{k}));
  gmlf{k} = Grad_LOG_CP_TIP(double(rgb2gray(im)));           % GMLF demo: double(rgb2gray(im))
  higrade{k} = higrade_1(im);                                  % HIGRADE demo: the uint8 RGB image
  if exist('mu_prisparam', 'var')
    niqe{k} = computequality(im, 96, 96, 0, 0, mu_prisparam, cov_prisparam);  % NIQE readme call
  end
end
write_rows(fullfile(out_dir, 'gmlf.csv'), names, gmlf);
write_rows(fullfile(out_dir, 'higrade.csv'), names, higrade);
if ~isempty(niqe)
  write_rows(fullfile(out_dir, 'niqe.csv'), names, niqe);
end
end

function write_rows(path, names, rows)
fid = fopen(path, 'w');
for k = 1:numel(rows)
  [~, base, ext] = fileparts(strtrim(names{k}));
  fprintf(fid, '%s', [base ext]);
  fprintf(fid, ',%.17g', rows{k});
  fprintf(fid, '\n');
end
fclose(fid);
end
