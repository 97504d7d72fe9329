"""Resources: the trip source, the lake's location, warehouse backends, notifications."""
