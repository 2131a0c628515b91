// Internal: page and tail cursors (implemented by the query and tail work).
#pragma once
