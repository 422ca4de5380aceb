package main

import (
	"time"

	"github.com/keyrace/keyrace/client"
)

func clientTimeout(d time.Duration) client.Option { return client.WithTimeout(d) }
