"""Training torch methods: the options (``config``), the loop, ``TorchMethod``, the decoded-image cache, speed."""
