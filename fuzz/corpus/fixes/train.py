"""Fine-tune a small causal language model, then run a hand-written evaluation loop.

This script is oomlint's demo: it trains and evaluates correctly, but it wastes GPU memory in
several of the ways the memory guide describes. Run `oomlint check examples/train.py`.
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

MODEL_ID = "gpt2"


def build_trainer(train_ds, eval_ds):
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID)
    args = TrainingArguments(
        output_dir="out",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=8,
        eval_strategy="steps",
        eval_steps=500,
        fp16=True,
    )
    return Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds)


def train_loop(model, loader: DataLoader, optimizer, epochs: int = 1):
    history = []
    for epoch in range(epochs):
        for batch in loader:
            logits = model(batch["input_ids"]).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), batch["labels"].view(-1))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            history.append(loss)
            torch.cuda.empty_cache()
    return history


def evaluate(model, val_loader: DataLoader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in val_loader:
            out = model(batch["input_ids"], labels=batch["labels"])
            total += out.loss.item()
    return total / max(len(val_loader), 1)


if __name__ == "__main__":
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
