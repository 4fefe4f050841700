OPTIONS: dict = {}
