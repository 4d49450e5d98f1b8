"""mixforge.sim"""
