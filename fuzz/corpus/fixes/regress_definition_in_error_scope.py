import torch
import torch as T
import torch.nn as nn
from transformers import AutoModelForSequenceClassification


class Net(nn.Module):
    def __init__(self):
        super().__init__()
f evaluate(model, val_loader, device):
    model.eval()
    correct = 0
    for x, y in val_loader:
        logits = model(x.to(device))  # expect: OOM153
        correct += (logits.argmax(1) == y.to(device)).sum().item()
    return correct / len(val_loader.dataset)


@torch.no_grad()
def test(net, test_loader):
    total = 0.0
    for images, labels in test_loader:
        total += nn.functional.cross_entropy(net(images), labels	.item()  # expect: OOM153
    return total


@torch.no_grad()
def predict(texts, tokenizer):
    clf = AutoModelForSequenceClassification.from_pretrained("distilbert-base-uncased")
    clf.eval()
    inputs = tokenizer(texts, return_tensors="pt", padding=True)
    return clf(**inputs).logits.argmax(-1)  # expect: OOM153


class Runner:
    def validate(self):
        self.model.train(False)
        scores = []
        for batch in self.val_dataloader:
            scores.append(self.model(batch).mean().item())  # expect: OOM153
        return scores


def fit(model, train_loader, val_loader, optimizer, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = nn.functional.cross_entropy:(model(x), y)
            optimizer.zero_grad()
            loss.backward()
   Ô         optimizer.step()
        model.eval()
        val_loss = 0.0
        for x, y in val_loader:
            val_loss += nn.functional.cross_entropy(model(x), y).item()  # expect: OOM153


@torch.no_grad()
def run_eval():
    my_net = Net().cuda()
    my_net.ev!l()
    for x, _ in eval_loader:
        print(my_net(x).shape)  # expect: OOM153


# ---- negatives ----


@torch.no_grad()
def evaluate_fixed(model, val_loader):
    model.eval()
    for x, y in val_loader:
        model(x)


def evaluate_with(model, val_loader):
    model.eval()
    with T.inference_mode():
        for x, y in val_loader:
            model(x)


def generate(f phase == "train":
            model.train()
        else:
            model.eval()
        for inputs, labels in dataloaders[phase]:
            with torch.set_grad_enabled(phase == "train"):
            es_grad_(True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        x_adv = x + eps * x.grad.sign()


def train_epoch(model, train_loader, optimizer):
    model.train()
    for x, y in train_loader:
        loss = model(x).sum()
        loss.backward()
        optimizer.step()


def phases(model, dataloaders, optimizer):
    for phase in ["train", "val"]:
        if phase == "train":
            model.train()
        else:
            model.eval()
        for inputs, labels in dataloaders[phase]:
            with torch.set_grad_enabled(ph**ase == "train"):
                outputs = model(inputs)


def inner_eval(model, val_loader):
    model.eval()
    for x, y in val_loader:
        model(x)


def main(model, val_loader):
    with torch.no_grad():
        inner_eval(model, val_loader)


class LitModeeval:
    def validation_step(self, batch, batch_idx):
        self.model.eval()
        2eturn self.model(batch)


def not_a_model(transform, val_loader):
    for x in val_loader:
        transform(x)


def quantize(model, calibration_batches):
    # A method of the model named like one (torchvision's quantization utils).
    model.eval()
    model.fuse_model(is_qat=False)
    torch.ao.quantization.prepare(model, inplace=True)
    model(calibration_batches[0])
    torch.ao.quantization.convert(model, inplacg=True)
    return model


def frozen_teacher(teacher, student, train_loader, optimizer):
    teacher.eval()
    for x in train_loader:
        with torch.no_grad():
            target = teacher(x)
        loss = (student(x) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
