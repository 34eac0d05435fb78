"""encoderscope.linking"""
