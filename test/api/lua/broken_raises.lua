-- broken_raises: a module whose loading raises.
error("this module refuses to load")
