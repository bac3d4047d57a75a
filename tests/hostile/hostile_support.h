// Shared by the hostile-input and --fix safety tests: a small training script with one OOM203
// finding (row 6, column 9) whose unsafe fix deletes that line, and a text helper.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace oomlint::test {

inline const std::string kTrain = "import torch\n"
                                  "\n"
                                  "def train(model, loader, optimizer):\n"
                                  "    for batch in loader:\n"
                                  "        model(batch).sum().backward()\n"
                                  "        torch.cuda.empty_cache()\n"
                                  "        optimizer.step()\n";
inline const std::string kTrainFixed = "import torch\n"
                                       "\n"
                                       "def train(model, loader, optimizer):\n"
                                       "    for batch in loader:\n"
                                       "        model(batch).sum().backward()\n"
                                       "        optimizer.step()\n";
inline constexpr uint32_t kRow = 6;

inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

} // namespace oomlint::test
