"""Request and response bodies of the HTTP gateway: the native API and the seed shapes."""
