// Byte offsets <-> LSP positions in the negotiated encoding, and engine diagnostics -> LSP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "line_index.h"
#include "lsp/protocol.h"

namespace oomlint::lsp {

// Offset of an LSP position; lines past the end give the end of the text, characters past the
// end of a line give the end of that line (as the specification asks).
uint32_t to_offset(const checks::LineIndex& lines, Position p, PositionEncoding enc);
Position to_position(const checks::LineIndex& lines, uint32_t offset, PositionEncoding enc);
Range to_range(const checks::LineIndex& lines, uint32_t start, uint32_t end, PositionEncoding enc);

// LSP TextEdit objects for byte edits of the text `lines` indexes.
json to_text_edits(const checks::LineIndex& lines, const std::vector<checks::Edit>& edits,
                   PositionEncoding enc);

// One LSP Diagnostic: range, severity, code, codeDescription.href, source "oomlint", the message
// with its M section, and the fix in `data` ({"fix": {"title", "applicability", "edits"}}).
// The href is the rule's page under `docs_base` (checks/doc_links.h; empty: the default base).
json to_lsp_diagnostic(const checks::Diagnostic& d, const checks::LineIndex& lines,
                       PositionEncoding enc, std::string_view docs_base = {});
json to_lsp_diagnostics(const std::vector<checks::Diagnostic>& diags, std::string_view text,
                        PositionEncoding enc, std::string_view docs_base = {});

int to_lsp_severity(checks::Severity s);

// The smallest whole-line edit that turns `before` into `after` (nothing if they are equal).
std::vector<checks::Edit> minimal_line_edit(std::string_view before, std::string_view after);

} // namespace oomlint::lsp
