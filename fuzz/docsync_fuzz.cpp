// Harness 2: document sync. A starting text and a sequence of incremental LSP edits (ranges in
// UTF-16 or UTF-8 line/character, including ranges past the end, reversed ranges, positions
// inside multi-byte characters and line terminators) go through the server's DocumentStore,
// which splices the text, edits the tree and reparses incrementally. After every didChange, the
// store's text equals a reference text computed here, independently of LineIndex. On the
// starting text, after every 8th didChange and after the last one:
//   - the diagnostics of the incrementally reparsed document (lsp::analyze on the snapshot, the
//     server's path) equal exactly those of a fresh engine check of the same text;
//   - the prefiltered check agrees too (the prefilter never hides a finding).
// Any difference aborts.
//
// Input: the starting text up to the first NUL byte, then edit records read with
// FuzzedDataProvider. Texts are made valid UTF-8 (invalid sequences become U+FFFD), as they are
// when they arrive in JSON.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "lsp/analysis.h"
#include "lsp/document_store.h"

using namespace oomlint;

namespace {

constexpr size_t kMaxText = size_t{1} << 16;
constexpr int kMaxSteps = 64;  // didChange notifications per input
constexpr int kCheckEvery = 8; // diagnostics compared after every 8th change, and the last

// ---- reference model (independent of checks::LineIndex and lsp::to_offset) -------------------

// Decodes one strictly valid UTF-8 sequence at s[i]; returns its length, 0 if invalid.
size_t utf8_valid(std::string_view s, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

std::string make_valid_utf8(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_valid(s, i, cp);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool is_break(char c) {
  return c == '\n' || c == '\r';
}

// Byte offset of an LSP position: a line past the last gives the end of the text, a character
// past the end of its line gives the end of the line (before "\r\n", "\n" or "\r"), and a
// UTF-16 character inside a surrogate pair stays before the pair.
size_t reference_offset(std::string_view t, uint32_t line, uint32_t character, bool utf8) {
  size_t i = 0;
  for (uint32_t l = 0; l < line; ++l) {
    while (i < t.size() && !is_break(t[i]))
      ++i;
    if (i == t.size()) return t.size();
    if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
    ++i;
  }
  size_t end = i;
  while (end < t.size() && !is_break(t[end]))
    ++end;
  if (utf8) return i + std::min<size_t>(character, end - i);
  uint32_t units = 0;
  while (i < end) {
    uint32_t cp = 0;
    size_t n = utf8_valid(t, i, cp);
    if (n == 0) n = 1; // cannot happen: texts are valid UTF-8
    uint32_t u = cp >= 0x10000 ? 2 : 1;
    if (units + u > character) break;
    units += u;
    i += n;
  }
  return i;
}

size_t reference_line_count(std::string_view t) {
  size_t n = 1;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n' || (t[i] == '\r' && !(i + 1 < t.size() && t[i + 1] == '\n'))) ++n;
  }
  return n;
}

void reference_apply(std::string& t, const lsp::ContentChange& c, bool utf8) {
  if (!c.range) {
    t = c.text;
    return;
  }
  size_t start = reference_offset(t, c.range->start.line, c.range->start.character, utf8);
  size_t end = reference_offset(t, c.range->end.line, c.range->end.character, utf8);
  if (end < start) end = start;
  t.replace(start, end - start, c.text);
}

// ---- comparing diagnostics -------------------------------------------------------------------

bool same_fix(const std::optional<checks::Fix>& a, const std::optional<checks::Fix>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->title == b->title && a->applicability == b->applicability && a->edits == b->edits;
}

bool same(const checks::Diagnostic& a, const checks::Diagnostic& b) {
  return a.code == b.code && a.slug == b.slug && a.section == b.section &&
         a.severity == b.severity && a.message == b.message && a.start == b.start &&
         a.end == b.end && a.start_pos.line == b.start_pos.line &&
         a.start_pos.column == b.start_pos.column && a.end_pos.line == b.end_pos.line &&
         a.end_pos.column == b.end_pos.column && same_fix(a.fix, b.fix);
}

bool same(const std::vector<checks::Diagnostic>& a, const std::vector<checks::Diagnostic>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

void print(const char* what, const std::vector<checks::Diagnostic>& ds) {
  std::fprintf(stderr, "%s: %zu diagnostics\n", what, ds.size());
  for (const auto& d : ds) {
    std::fprintf(stderr, "  %s [%u,%u) %u:%u %s\n", d.code.c_str(), d.start, d.end,
                 d.start_pos.line, d.start_pos.column, d.message.c_str());
  }
}

[[noreturn]] void fail(const char* why, std::string_view text) {
  std::fprintf(stderr, "docsync: %s\n--- text (%zu bytes) ---\n%.*s\n--- end ---\n", why,
               text.size(), static_cast<int>(std::min<size_t>(text.size(), 4000)), text.data());
  std::abort();
}

// ---- edit generation -------------------------------------------------------------------------

// Pieces of Python and awkward characters that random bytes rarely produce.
constexpr std::string_view kSnippets[] = {
    "\n",
    "    ",
    "\r\n",
    "\r",
    ":",
    "(",
    ")",
    "#",
    "\"",
    "'''",
    "\\\n",
    "é",
    "€",
    "😀",
    "import torch\n",
    "for batch in loader:\n",
    "    loss = model(batch).sum()\n",
    "    loss.backward()\n",
    "torch.cuda.empty_cache()",
    "    losses.append(loss)\n",
    "total += loss\n",
    ".item()",
    ".detach()",
    "with torch.no_grad():\n",
    "model.eval()\n",
    "def train(model, loader):\n",
    "class M:\n",
    "  # noqa\n",
    "from transformers import TrainingArguments\n",
    "TrainingArguments(per_device_train_batch_size=64, fp16=False)\n",
    "model = AutoModel.from_pretrained(\"meta-llama/Llama-2-7b-hf\")\n",
};

uint32_t pick_character(FuzzedDataProvider& in, uint8_t kind) {
  if (kind & 0x40) return in.ConsumeBool() ? UINT32_MAX : 1000;
  return in.ConsumeIntegralInRange<uint32_t>(0, 24);
}

lsp::ContentChange next_change(FuzzedDataProvider& in, const std::string& text) {
  lsp::ContentChange c;
  uint8_t kind = in.ConsumeIntegral<uint8_t>();
  bool snippet = kind & 0x80;
  auto inserted = [&] {
    if (snippet) {
      return std::string(in.PickValueInArray(kSnippets));
    }
    return make_valid_utf8(in.ConsumeRandomLengthString(24));
  };
  if ((kind & 0x0F) == 0x0F) { // a full replacement
    c.text = inserted();
    return c;
  }
  uint32_t lines = static_cast<uint32_t>(reference_line_count(text));
  lsp::Range r;
  r.start.line = in.ConsumeIntegralInRange<uint32_t>(0, lines + 1);
  r.start.character = pick_character(in, kind);
  switch ((kind >> 4) & 3) {
  case 0: // an insertion
    r.end = r.start;
    break;
  case 1: // a few characters on the same line
    r.end = {r.start.line, r.start.character + in.ConsumeIntegralInRange<uint32_t>(0, 8)};
    if (r.end.character < r.start.character) r.end.character = UINT32_MAX;
    break;
  case 2: // to a later line
    r.end = {r.start.line + in.ConsumeIntegralInRange<uint32_t>(0, 4), pick_character(in, kind)};
    break;
  default: // anywhere, perhaps before the start
    r.end = {in.ConsumeIntegralInRange<uint32_t>(0, lines + 1), pick_character(in, kind)};
    break;
  }
  c.range = r;
  c.text = inserted();
  return c;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const checks::Engine engine{checks::Settings{}};
  static const bool verbose = std::getenv("DOCSYNC_VERBOSE") != nullptr; // print every change
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string reference = make_valid_utf8(input.substr(0, nul));
  std::string_view rest =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  FuzzedDataProvider in(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());

  const lsp::PositionEncoding enc =
      in.ConsumeBool() ? lsp::PositionEncoding::Utf8 : lsp::PositionEncoding::Utf16;
  const bool utf8 = enc == lsp::PositionEncoding::Utf8;
  const std::string uri = "file:///fuzz/train.py";
  lsp::DocumentStore store;
  store.open(uri, "python", 1, reference);

  int64_t version = 1;
  for (int step = 0;; ++step) {
    auto snap = store.snapshot(uri);
    if (!snap) fail("document vanished", reference);
    if (*snap->text != reference) {
      std::fprintf(stderr, "--- store text ---\n%s\n", snap->text->c_str());
      fail("store text differs from the reference text", reference);
    }
    // The text is compared after every change (cheap); the diagnostics, three engine checks,
    // after every kCheckEvery-th change and after the last one. An incremental tree gone wrong
    // stays the base of every later reparse (until a full replacement), so it is still there at the
    // next comparison; which steps are compared depends on the input only, so a finding reproduces.
    const bool last = step == kMaxSteps || in.remaining_bytes() == 0 || reference.size() > kMaxText;
    if (last || step % kCheckEvery == 0) {
      auto incremental = lsp::analyze(*snap, engine, nullptr);
      auto fresh = engine.check(reference, /*no_prefilter=*/true);
      if (!same(incremental.diagnostics, fresh)) {
        print("incremental", incremental.diagnostics);
        print("fresh", fresh);
        fail("incremental diagnostics differ from a fresh check", reference);
      }
      if (!same(engine.check(reference), fresh)) fail("the prefilter hid a diagnostic", reference);
    }
    if (last) break;
    std::vector<lsp::ContentChange> batch(in.ConsumeIntegralInRange<size_t>(1, 3));
    for (auto& c : batch) {
      c = next_change(in, reference);
      reference_apply(reference, c, utf8);
      if (verbose) {
        std::fprintf(stderr, "change v%lld %s: ", static_cast<long long>(version + 1),
                     utf8 ? "utf-8" : "utf-16");
        if (c.range) {
          std::fprintf(stderr, "%u:%u-%u:%u ", c.range->start.line, c.range->start.character,
                       c.range->end.line, c.range->end.character);
        }
        std::fprintf(stderr, "<%s>\n", c.text.c_str());
      }
    }
    if (!store.change(uri, ++version, batch, enc)) fail("change refused", reference);
  }
  return 0;
}
