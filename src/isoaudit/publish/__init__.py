"""Publishers: they only write what the metrics computed."""
