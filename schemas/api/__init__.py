"""Request and response bodies of the HTTP gateway: the native API and the shapes of other
hosted APIs it also speaks."""
