"""The daemon probe: is the Docker daemon behind DOCKER_HOST usable, and if not, how is it broken?"""
