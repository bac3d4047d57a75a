import torch
import torch as T
from torch.cuda import empty_cache
from torch.cuda import empty_cache as ec
import torch.cuda
import transformers
from transformers import Seq2SeqTrainingArguments
from transformers import TrainingArguments
from transformers import TrainingArguments as TA
from trl import SFTConfig


def train(model, loader, optimizer):
    for batch in loader:
        loss = model(batch).sum()
        loss.backward()
        optimizer.step()
        torch.cuda.empty_cache()  # expect: OOM203


def train_alias(model, loader, opt):
    for step, batch in enumerate(loader):
        opt.zero_grad()
        model(batch).mean().backward()
        opt.step()
        T.cuda.empty_cache()  # expect: OOM203


def train_from_import(model, data, optimizer):
    for x in data:
        model(x).sum().backward()
        optimizer.step()
        empty_cache()  # expect: OOM203


def train_renamed(model, train_loader):
    for x in train_loader:
        out = model(x)
        ec()  # expect: OOM203


def evaluate(model, val_loader):
    with torch.no_grad():
        for x in val_loader:
            model(x)
            torch.cuda.empty_cache()  # expect: OOM203


def while_loop(model, it, optimizer):
    while True:
        model(next(it)).sum().backward()
        optimizer.step()
        if True:
            torch.cuda.empty_cache()  # expect: OOM203


def only_statement(model, dataloader):
    for batch in dataloader:
        torch.cuda.memory.empty_cache()  # expect: OOM203


# The Trainer's own knob set to 1: empty_cache() after every optimizer step.
every_step = TrainingArguments(
    output_dir="out",
    per_device_train_batch_size=4,
    torch_empty_cache_steps=1,  # expect: OOM203
)
aliased = TA(output_dir="out", torch_empty_cache_steps=1, bf16=True)  # expect: OOM203
seq2seq = Seq2SeqTrainingArguments("out", predict_with_generate=True, torch_empty_cache_steps=1)  # expect: OOM203
sft = SFTConfig(output_dir="sft", torch_empty_cache_steps=1)  # expect: OOM203
dotted = transformers.TrainingArguments(torch_empty_cache_steps=1, output_dir="out")  # expect: OOM203


# ---- negatives ----


def after_the_loop(model, loader, optimizer):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
    torch.cuda.empty_cache()


def oom_recovery(model, loader, optimizer):
    for batch in loader:
        try:
            model(batch).sum().backward()
            optimizer.step()
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()


def periodic(model, loader, optimizer):
    for step, batch in enumerate(loader):
        model(batch).sum().backward()
        optimizer.step()
        if step % 500 == 0:
            torch.cuda.empty_cache()


def between_epochs(model, loader, optimizer, epochs):
    for epoch in range(epochs):
        for batch in loader:
            model(batch).sum().backward()
            optimizer.step()
        torch.cuda.empty_cache()


def between_models(names):
    for name in names:
        run_experiment(name)
        torch.cuda.empty_cache()


class Cache:
    def empty_cache(self):
        pass


def other_library(model, loader, optimizer, cache):
    for batch in loader:
        model(batch).sum().backward()
        optimizer.step()
        cache.empty_cache()


def own_function(model, loader, optimizer):
    def empty_cache():
        pass

    for batch in loader:
        optimizer.step()
        empty_cache_local = empty_cache
        empty_cache_local()


def setup():
    torch.cuda.empty_cache()


# A period of many steps is the deliberate trade the option exists for.
periodic_args = TrainingArguments(output_dir="out", torch_empty_cache_steps=500)
from_config = TrainingArguments(output_dir="out", torch_empty_cache_steps=cfg.empty_cache_steps)
unset = TrainingArguments(output_dir="out", per_device_train_batch_size=4)


class MyArguments:
    def __init__(self, **kw):
        self.kw = kw


own_args = MyArguments(torch_empty_cache_steps=1)
