function out = blkproc(A, blk, overlap, fun)
% MATLAB's blkproc for distinct blocks (zero overlap) of an image whose sides are
% multiples of the block size: fun's outputs tiled in the block grid. Absent in Octave 7.
if any(overlap ~= 0) || any(mod(size(A), blk) ~= 0)
  error('blkproc shim: only zero overlap on whole blocks is needed');
end
nr = size(A, 1) / blk(1); nc = size(A, 2) / blk(2);
out = [];
for j = 1:nc
  column = [];
  for i = 1:nr
    block = A((i - 1) * blk(1) + (1:blk(1)), (j - 1) * blk(2) + (1:blk(2)));
    column = [column; fun(block)];
  end
  out = [out, column];
end
end
