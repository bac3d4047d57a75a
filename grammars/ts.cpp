#include "ts.h"

extern "C" const TSLanguage* tree_sitter_python(void);

namespace oomlint::ts {

const TSLanguage* python() { return tree_sitter_python(); }

Parser::Parser() : parser_(ts_parser_new()) { ts_parser_set_language(parser_, python()); }

Parser::~Parser() { ts_parser_delete(parser_); }

Tree Parser::parse(std::string_view text, const Tree* old) {
  TSTree* t = ts_parser_parse_string_encoding(parser_, old ? old->raw() : nullptr, text.data(),
                                              static_cast<uint32_t>(text.size()), TSInputEncodingUTF8);
  return Tree(t);
}

}  // namespace oomlint::ts
