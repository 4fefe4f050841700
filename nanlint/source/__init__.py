"""The libcst source pass (`nanlint check`)."""
