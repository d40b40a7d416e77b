"""Node analysis: will this node run dind now, and still after its next reboot?"""
