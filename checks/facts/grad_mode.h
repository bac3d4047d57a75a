// Autograd on or off: the one definition of a no-grad region, and of code that needs autograd.
#pragma once

#include "engine/context.h"
#include "engine/prefilter.h"

namespace oomlint::checks::facts {

// `torch.no_grad()`, `torch.inference_mode()` (not `inference_mode(False)`),
// `torch.set_grad_enabled(False)`, or the bare decorator forms, under any import spelling.
bool is_no_grad_expr(const Semantics& sema, Node e);

// Does the node being checked run without autograd? Inside `with torch.no_grad()` /
// `torch.inference_mode()` / `torch.set_grad_enabled(False)`, or in a function decorated with
// one of them (a closure defined in such a region counts as running there); or after a
// `torch.set_grad_enabled(False)` statement in the same block or a block around it in the same
// function (unless a later one turns autograd back on first), or anywhere in a function of a
// file that turns autograd off at module level for good.
bool in_no_grad(const Context& cx);

// in_no_grad(), or the deep analysis says the node runs without autograd: a decorator of the
// project that wraps no_grad, or a function the file calls only from places without autograd.
bool runs_without_grad(const Context& cx, Node n);

// Is `n` inside a `with` no-grad block (is_no_grad_expr) between itself and `stop`?
bool under_no_grad_until(const Context& cx, Node n, Node stop);

// Does the subtree call `.backward(...)`, `torch.autograd.grad(...)` or ask for gradients of
// its inputs (`requires_grad`)?
bool uses_autograd(const Context& cx, Node root);
// The identifiers through which uses_autograd() can be true (the callee's last name, or
// `autograd` in a name resolved to torch.autograd.grad/backward or in the import binding it).
Clause uses_autograd_terms();

// Code that trains: uses_autograd() or steps_optimizer() (facts/optimizer.h), as one fragment.
Prefilter trains_terms();

} // namespace oomlint::checks::facts
