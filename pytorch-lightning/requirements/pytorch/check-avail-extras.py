if __name__ == "__main__":
    import hydra  # noqa: F401
    import jsonargparse  # noqa: F401
    import matplotlib  # noqa: F401
    import omegaconf  # noqa: F401
    import rich  # noqa: F401
