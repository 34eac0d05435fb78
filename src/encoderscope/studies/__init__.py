"""encoderscope.studies"""
