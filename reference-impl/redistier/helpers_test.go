package redistier

import "github.com/keyrace/keyrace/wire"

func wireTeam(id string) wire.NewTeamRequest {
	return wire.NewTeamRequest{TeamID: "redistier-" + id}
}
