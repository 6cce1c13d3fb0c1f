"""The staff dashboard, one module per screen; ``shared`` holds the access decorators and the
form-to-service round trip. Views read through ``registry.selectors``, write through
``registry.services``, compute no date, and work as plain HTML with htmx as an extra."""
