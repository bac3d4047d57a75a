import torch as T
from torch.cuda import empty_cache as ec
with T.no_grad():
    for b in val_loader:
        preds.append(model(b).logits)
        ec()
