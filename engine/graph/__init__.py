"""The graph document behind the canvas (:mod:`~engine.graph.document`), its layout
(:mod:`~engine.graph.layout`) and the way between graphs and models (:mod:`~engine.graph.build`)."""
from engine.graph.build import build_model, document_from_model, graph_from_keras_file
from engine.graph.document import Edge, GraphDocument, GraphError, GraphNode, NodeInfo, build_layer

__all__ = ["Edge", "GraphDocument", "GraphError", "GraphNode", "NodeInfo", "build_layer",
           "build_model", "document_from_model", "graph_from_keras_file"]
