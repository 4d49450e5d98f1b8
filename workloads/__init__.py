"""mixforge.workloads"""
