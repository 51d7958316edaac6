package purchase_test

import (
	"testing"

	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

func TestMain(m *testing.M) { mongotest.Main(m) }
