"""mixforge.hw"""
