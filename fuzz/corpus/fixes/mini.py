for b in loader:
    l = criterion(b)
    l.backward()
    total += l
    torch.cuda.empty_cache()
