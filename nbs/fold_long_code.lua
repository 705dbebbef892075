-- as3l docs: fold long code cells.
-- Runs before Quarto's own filters (`filters: [fold_long_code.lua, quarto]` in _quarto.yml). A notebook code cell
-- (CodeBlock with class `cell-code`) longer than `fold-long-code-lines` lines (default 25) that has no
-- `code-fold` option of its own gets `code-fold="true"` and a summary naming its length; Quarto's code-fold
-- support then renders it as a closed <details> block. Cells with `#| code-fold: ...` (nbdev's exported
-- source has `code-fold: show`) are left alone.
local threshold = 25

local function read_meta(meta)
  local v = meta['fold-long-code-lines']
  if v ~= nil then threshold = tonumber(pandoc.utils.stringify(v)) or threshold end
end

local function fold(cb)
  if not cb.classes:includes('cell-code') then return nil end
  if cb.attributes['code-fold'] ~= nil then return nil end
  local n = 1
  for _ in cb.text:gmatch('\n') do n = n + 1 end
  if n <= threshold then return nil end
  cb.attributes['code-fold'] = 'true'
  if cb.attributes['code-summary'] == nil then
    cb.attributes['code-summary'] = 'Show the code (' .. n .. ' lines)'
  end
  return cb
end

return { { Meta = read_meta }, { CodeBlock = fold } }
