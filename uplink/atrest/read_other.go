//go:build !unix

package atrest

import "os"

const openFlags = os.O_RDONLY
