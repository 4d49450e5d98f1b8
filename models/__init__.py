"""mixforge.models"""
