from .resource import Resource
class TraceResource(Resource):
    pass
