package server

import (
	"context"
	"net/http"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/cluster"
)

// Cluster is what GET /cluster needs of this node's membership (*cluster.Node).
type Cluster interface {
	Status(ctx context.Context) (cluster.Status, error)
}

func (s *Server) clusterRoutes() {
	s.handle("GET /cluster", auth.RoleUser, s.getCluster)
}

// getCluster is GET /cluster: the nodes sharing this node's database, their leases and
// configuration versions, and which state is per node.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) error {
	st, err := s.cluster.Status(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}
