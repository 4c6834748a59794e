"""REST routers: auth, tasks, operations. (ChatKit's `/chatkit` router joins them later.)"""
