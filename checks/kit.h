// Everything a rule file needs: the rule API (engine/rule.h), the context it checks through
// (engine/context.h), prefilter terms (engine/prefilter.h), the shared domain facts
// (checks/facts/) and the fix helpers. A rule file includes this and nothing else of ours.
#pragma once

#include "engine/context.h"
#include "engine/prefilter.h"
#include "engine/rule.h"
#include "facts/alloc_conf.h"
#include "facts/checkpointing.h"
#include "facts/deepspeed.h"
#include "facts/grad_mode.h"
#include "facts/loops.h"
#include "facts/models.h"
#include "facts/optimizer.h"
#include "facts/training_args.h"
#include "facts/words.h"
#include "fix_helpers.h"
#include "model/semantics.h"
#include "model/syntax.h"
