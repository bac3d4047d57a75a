// Loops that run steps: the one definition every rule uses of a step loop, a training loop and
// an evaluation loop, with the prefilter fragment that matches each (a rule whose report depends
// on the fact requires the fragment, so the prefilter never hides a report).
#pragma once

#include "engine/context.h"
#include "engine/prefilter.h"

namespace oomlint::checks::facts {

// A `for` loop over data: the words of its iterable (code and one-line strings, as
// Context::code_text reads them: `loaders["train"]` counts, a comment does not) name a loader
// (`train_loader`, `trainLoader`, `dataloaders["val"]`), `batches`, `dl`, `data` or `dataset`.
bool iterates_data(const Context& cx, Node loop);
Clause iterates_data_terms();

// A loop that runs training or evaluation steps: it iterates data, or its own body (not a nested
// loop's) calls `.backward(...)`, steps an optimizer (is_optimizer) or draws a batch with
// `next(it)` from an iterator of data (`it = iter(val_loader)`). An epoch loop around a step
// loop is not one.
bool is_step_loop(const Context& cx, Node loop);
Clause step_loop_terms();

// A loop that runs training steps: it steps an optimizer anywhere in its body, or it iterates
// data.
bool is_training_loop(const Context& cx, Node loop);
Clause training_loop_terms();

// An evaluation split named in a loop's iterable (`val_loader`, `tqdm(test_loader)`,
// `dataloaders["val"]`, `valid_dl`): a split word (`val`, `valid`, `validation`, `eval`,
// `evaluation`, `test`, `testing`, `dev`) and a data word (a loader, `dl`, `data`, `dataset`,
// `ds`, `batches`, `iter`, `iterator`).
bool is_eval_iterable(std::string_view text);
// A `for` over an evaluation split.
bool is_eval_loop(const Context& cx, Node loop);
Clause eval_split_terms(); // the split words
Clause eval_data_terms();  // the data words
// Evaluation code: a loop over an evaluation split (is_eval_loop), or code after `x.eval()` /
// `x.train(False)` (ModeTracker in facts/models.h: the method `eval`, or `train` and the literal
// `False`, each a whole identifier). (split and data) or eval or (train and False), as clauses.
Prefilter evaluation_code_terms();

// Is the node being checked under `if <something> % N ...:` between itself and `loop` (work
// done every N steps on purpose)?
bool is_periodic_in(const Context& cx, Node loop);

} // namespace oomlint::checks::facts
