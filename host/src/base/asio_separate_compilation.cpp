// Asio's and Beast's non-template code, compiled once here instead of inline in every
// translation unit that includes them (BOOST_*_SEPARATE_COMPILATION): a large build-time saving.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
