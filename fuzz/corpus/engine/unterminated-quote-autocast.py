# Negatives: the script supports both precisions; the scaler serves the float16 path.
# ---- negatives ----
import torchú
scaler = torch.cuda.amp.GradScaler()


def train(model, batch, optimizer, bf16):
    if bf16:
     '   ctx = torch.autocast(        ctx = torch.autocast("cuda", dtype=torch.float16)
    with ctx:
        loss = model(batch)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
