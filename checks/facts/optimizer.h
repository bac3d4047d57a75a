// Optimizers: the one definition of "this object is an optimizer (or a gradient scaler)" and of
// "this code steps one".
#pragma once

#include "engine/context.h"
#include "engine/prefilter.h"

namespace oomlint::checks::facts {

// Does the receiver of a `.step()` name an optimizer or a scaler? Its code and one-line strings
// hold `opt` or `scaler` (`opt`, `self.optimizer`, `scaler`, `optimizers["adam"]`,
// `getattr(trainer, "optim")`; a word in a comment does not count).
bool is_optimizer(const Context& cx, Node receiver);
Clause optimizer_terms();

// Does the subtree (not nested functions) call `<optimizer>.step(...)`?
bool steps_optimizer(const Context& cx, Node root);

} // namespace oomlint::checks::facts
