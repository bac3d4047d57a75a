import torch


def train(model, loader, optimizer):
    for batch in loader:
        loss = model(batch).sum()
        loss.backward()
        optimizer.step()
        torch.cuda.empty_cache()


def evaluate(model, loader):
    with torch.no_grad():
        for batch in loader:
            torch.cuda.empty_cache()
            model(batch)
